"""The workflow interpreter: plain Python, no Django. Models adapt to it at the edge (executions.runtime)."""
