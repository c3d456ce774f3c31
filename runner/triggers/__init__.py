"""Triggers: file and git watchers, the post-commit hook, and the queue worker that starts builds."""
