"""GitOps data: the clusters registered with Argo CD and the applications sent to them.

``gitops/clusters/<env>.yaml`` and ``gitops/apps/<env>.yaml`` are read and checked here
(:mod:`.load`), and the ApplicationSet cluster generator is computed offline
(:mod:`.matrix`), so a pull request shows which application lands on which cluster at
which revision before Argo CD does anything.
"""
