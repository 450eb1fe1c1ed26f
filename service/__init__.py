"""The lesson service: follows each lesson, judges it against the policy, decides whom to tell and composes the cards."""
