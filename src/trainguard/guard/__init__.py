"""Runtime text guards: normalisation, toxicity, PII, prompt injection, fact-checking."""
