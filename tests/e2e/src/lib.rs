//! End-to-end suite for Tradewind; the tests are in `tests/`. It needs only a
//! KUBECONFIG (`E2E_KUBECONFIG`); without one it starts the test API server in-process.
//! See README.md.
