"""ModelCard's interface: its node id (its files' names are the Pusher's: components/pusher/spec.py)."""
NODE_ID = "ModelCard"
