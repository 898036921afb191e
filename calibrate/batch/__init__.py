"""The LLM judge's batch route: the same requests as the online route, sent as one file.

OpenAI's Batch API and vLLM's ``run-batch`` read the same JSONL: one request a line,
``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {...}}``, and
answer one line per request, ``{"custom_id", "response": {"status_code", "body"},
"error"}``. This package writes those lines (:mod:`.requests`), reads the answers into the
judge cache (:mod:`.results`), speaks the endpoint's ``/v1/files`` and ``/v1/batches``
(:mod:`.api`) and ties them into a resumable run (:mod:`.route`).

Nothing is built or parsed twice: a request body is :meth:`LLMJudge.request_body` and an
answer is read by :meth:`LLMJudge.read_answer`, as in the online route, and verdicts reach
the ``verdicts`` table the way cached ones do
(:func:`safecal.annotate.store.runs.verdicts_from_cache`).
"""
