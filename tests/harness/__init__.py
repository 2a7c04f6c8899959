"""Acceptance harnesses: the soak (days under the real scheduler), fuzzing (hostile
deliveries) and chaos (random kills, alone and in pairs). Each runs on its own through
``make soak``, ``make fuzz`` and ``make chaos``, and a sample of each runs in the suite."""
