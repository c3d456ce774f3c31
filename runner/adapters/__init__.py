"""The outside systems, one owner each: the Docker engine (the docker package, split by
concern), docker compose (compose), git (git) and processes (processes); and the execution
seam (executor: RunRequest in, RunOutcome out) that the Docker engine implements and the
build loop and deploy hooks take. Everything else gets plain values from them. Imports
only runner.errors.
"""
