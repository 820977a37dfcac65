"""Data protection: retention sweep, export, erasure and the audit log (issue 13).

See docs/privacy.md for the policy these implement.
"""
