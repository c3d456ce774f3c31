"""The outside systems, one owner each: the Docker engine (the docker package, split by
concern), docker compose (compose), git (git) and processes (processes). Everything else
gets plain values from them. Imports only runner.errors.
"""
