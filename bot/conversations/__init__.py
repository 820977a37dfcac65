"""The conversation service: the one writer of status, hand-overs and replies."""
