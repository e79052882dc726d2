"""The supervisor review app (``callqa serve``)."""
