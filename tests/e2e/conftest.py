"""End-to-end: the system as `make up` starts it, on free ports, in a throwaway MLOPS_HOME."""
