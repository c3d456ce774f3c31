"""State-change events in EventBridge's shapes, rules that match them, and their delivery."""
