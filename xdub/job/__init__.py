"""The job: the OTIO timeline a host submits (``timeline``), the result timeline
(``result``) and the pipeline's reading of the options record (``options``)."""
