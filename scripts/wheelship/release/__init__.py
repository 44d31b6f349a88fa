"""The release stage: which tag a commit gets (``decide``: pure), creating it (``tag``: git
and the GitLab Releases API), and publishing the built files to a package index (``publish``).
"""
