"""The Docker engine: the one package that imports the docker SDK (lazily, in client).

client (the SDK client, error translation, labels), engine_api (the engine's HTTP API on
the local socket, for a fresh process's first calls), images, runs (one-shot containers),
containers (the living ones: list, inspect, logs, exec, kill, remove) and networks. Imports
only runner.errors and the adapters' own records.
"""
