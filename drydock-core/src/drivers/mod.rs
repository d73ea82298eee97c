//! Driver traits (`OobDriver`, `NodeDriver`, `KubernetesDriver`) and their implementations.
