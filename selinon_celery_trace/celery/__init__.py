"""The Celery adapters: configuration, ``install``, the publish and worker hooks, the Dispatcher base task.

They translate what Celery does into trace events and hand them to the core; the core never imports
them (nor Celery).
"""
