"""The compat stage: has the public API broken since the previous release?

``apidiff`` (griffe over two commits) -> ``check`` (policy, verdict: the report) ->
``report`` (text, JSON, GitLab code quality); ``gate`` runs the check inside ``wheelship tag``.
"""
