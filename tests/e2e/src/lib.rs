//! End-to-end suite that runs against whatever cluster KUBECONFIG names. Not built yet:
//! it arrives with the operator (issue 5) and the test API server (issue 4).
