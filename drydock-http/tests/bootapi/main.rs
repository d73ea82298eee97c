//! The boot-action API in-process (poem's test client).

mod endpoints;
mod support;
