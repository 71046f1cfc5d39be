"""Where an image lives besides the local engine: an OCI image layout (a directory), an archive (an
OCI or docker-archive tar), a registry. Each is an ``ImageSource`` (``model``): it names the
platforms it holds, hands over each platform's verified manifest and config, and its layer blobs
as a ``BlobSource`` for the streamed reader (``measure.archive``)."""
