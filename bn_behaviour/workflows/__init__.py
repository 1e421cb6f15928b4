"""Workflow modules (see bn_behaviour/workflow.py)."""
