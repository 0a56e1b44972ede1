"""Go/no-go evidence, pure: findings (PASS / WARN / FAIL with their evidence), verdicts and drift reports.

The verbs that gather the facts (``quixotic.commands.validate``) read live projects; everything that
judges them lives here, takes values and returns values, and is tested with literals.
"""
