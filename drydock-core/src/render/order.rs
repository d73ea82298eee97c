//! The order documents are rendered in: a document after the document it
//! layers on and after every document it substitutes from, ties broken by
//! input order. A dependency cycle (including a document substituting from
//! itself) is an error naming the documents around it. Kahn's algorithm:
//! linear in documents and dependencies, no recursion.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::document::Document;
use super::error::RenderError;
use super::layering::Plan;

/// The render order of `documents`, or the first missing substitution
/// source or cycle met.
pub(crate) fn sort(documents: &[Document], plan: &Plan) -> Result<Vec<usize>, RenderError> {
    let count = documents.len();
    let mut dependencies: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (index, document) in documents.iter().enumerate() {
        if document.control {
            continue;
        }
        if let Some(ancestor) = plan.ancestor(index) {
            dependencies[index].push(ancestor);
        }
        for (position, substitution) in document.substitutions.iter().enumerate() {
            let key = (substitution.src.schema.clone(), substitution.src.name.clone());
            let Some(&source) = plan.sources.get(&key) else {
                return Err(RenderError::SourceNotFound { document: document.id.clone(), index: position, schema: key.0, name: key.1 });
            };
            dependencies[index].push(source);
        }
        dependencies[index].sort_unstable();
        dependencies[index].dedup();
    }
    let mut waiting: Vec<usize> = dependencies.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (index, needs) in dependencies.iter().enumerate() {
        for &need in needs {
            dependents[need].push(index);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..count).filter(|&index| waiting[index] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(count);
    while let Some(Reverse(index)) = ready.pop() {
        order.push(index);
        for &dependent in &dependents[index] {
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 {
                ready.push(Reverse(dependent));
            }
        }
    }
    if order.len() == count {
        return Ok(order);
    }
    Err(RenderError::Cycle {
        documents: find_cycle(&dependencies, &waiting).into_iter().map(|index| documents[index].id.clone()).collect(),
    })
}

/// A cycle among the documents still waiting: each of them waits for at
/// least one other that waits too, so following those edges from any of
/// them must come back to a document already on the path.
fn find_cycle(dependencies: &[Vec<usize>], waiting: &[usize]) -> Vec<usize> {
    let Some(start) = (0..waiting.len()).find(|&index| waiting[index] > 0) else {
        return Vec::new();
    };
    let mut position_on_path: Vec<Option<usize>> = vec![None; waiting.len()];
    let mut path = Vec::new();
    let mut here = start;
    loop {
        if let Some(position) = position_on_path[here] {
            return path.split_off(position);
        }
        position_on_path[here] = Some(path.len());
        path.push(here);
        match dependencies[here].iter().copied().find(|&next| waiting[next] > 0) {
            Some(next) => here = next,
            None => return path,
        }
    }
}
