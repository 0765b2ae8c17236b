"""trainguard: secure machine-learning training across its lifecycle.

Data audit, protected training (differential privacy, adversarial, federated),
attack testing (robustness, backdoors, membership inference, fairness), supply-chain
checks and run-time guards, each producing :class:`~trainguard.core.findings.Finding`
objects that one report renders.
"""

__version__ = "0.1.0"
