"""The local dashboard: a FastAPI app over the store, bound to the loopback interface."""
