"""The outside systems, one module each: the Docker engine (docker_engine, and engine_api
for the fast local socket), docker compose (compose), git (git) and processes (processes).
Everything else gets plain values from them. Imports only runner.errors.
"""
