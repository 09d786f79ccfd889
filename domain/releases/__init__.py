"""Release Management's rules: deploying a release (its changes implemented, the catalogue and
CI versions updated, what its changes fix closed) and rolling it back, each in one transaction."""

from domain.releases.deployment import (
    deploy_release,
    fixed_by,
    rollback_release,
    transition_release,
)

__all__ = ["deploy_release", "fixed_by", "rollback_release", "transition_release"]
