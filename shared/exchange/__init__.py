"""The exchange protocol between nodes and the hub (pure: no Django)."""
