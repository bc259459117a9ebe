"""Operations: metrics, traces and the health endpoints, shared by every process.

Imported by the worker, the starter and (for the metrics they record) the activities;
imports nothing of theirs but `activities.tiktok_client` names, so it never forms a cycle.
"""
