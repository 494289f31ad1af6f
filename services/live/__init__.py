"""live: the room. Viewer websockets, host controls, moderation, interactions."""
