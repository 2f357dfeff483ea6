"""Integration models (connections come with the integrations issue)."""
