"""The online path: the batch job's tasks for one note at a time, as a Ray Serve application.

``medbatch serve`` runs it locally; a KubeRay RayService runs ``medbatch.serve.app:build_app`` from the
job image. The same ``ShardProcessor`` as the batch job does the work, so a note gets the same result
online and in a batch.
"""
