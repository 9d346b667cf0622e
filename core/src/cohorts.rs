//! Confirming a cohort plan: the coordinator's step between `hearth cohorts plan` (which only
//! proposes) and invites going out. Confirming creates one group per proposed cohort, named for
//! its due dates and language, and one single-use mother's invite per member, for the
//! coordinator to pass on. Everything is checked before anything is created: a plan that puts a
//! mother in two groups, an empty or oversize group, or a name already taken changes nothing.

use std::collections::BTreeSet;

use serde::Serialize;

use hearth_care::cohorts::Plan;

use crate::companion::Companion;
use crate::error::{InputError, Result};
use crate::group::Capacity;
use crate::identity::Role;

/// How long a cohort invite stays valid: two weeks, time for a coordinator to reach everyone.
pub const INVITE_VALID_MS: i64 = 14 * 24 * 3_600_000;

/// A mother's invite to her cohort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CohortInvite {
    /// The mother's id in the plan.
    pub mother: String,
    pub code: String,
    pub expires_at: i64,
}

/// A cohort created from the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfirmedCohort {
    pub group: String,
    pub name: String,
    pub language: String,
    pub invites: Vec<CohortInvite>,
}

/// The group name for a cohort: "Due Mar–Apr 2027 (Somali)".
fn cohort_name(g: &hearth_care::cohorts::Group) -> String {
    let from = g.due_from.format("%b").to_string();
    let to = g.due_to.format("%b %Y").to_string();
    let span = if g.due_from.format("%b %Y").to_string() == to {
        to
    } else {
        format!("{from}–{to}")
    };
    format!("Due {span} ({})", g.language)
}

impl Companion {
    /// Creates the plan's groups and their invites (moderators). See the module notes.
    pub fn confirm_cohorts(&mut self, plan: &Plan) -> Result<Vec<ConfirmedCohort>> {
        self.require(
            Role::Moderator,
            "confirm cohorts",
            "moderators (coordinators)",
        )?;
        if plan.groups.is_empty() {
            return Err(InputError::new("groups", "the plan proposes no groups").into());
        }
        let mut seen = BTreeSet::new();
        let mut names: BTreeSet<String> = self
            .groups()?
            .into_iter()
            .map(|g| g.name.to_lowercase())
            .collect();
        let mut planned = Vec::new();
        for (i, g) in plan.groups.iter().enumerate() {
            if g.members.is_empty() {
                return Err(InputError::new(format!("groups[{i}].members"), "empty").into());
            }
            if g.members.len() > Capacity::DEFAULT as usize {
                return Err(InputError::new(
                    format!("groups[{i}].members"),
                    format!(
                        "{} mothers; a group holds at most {}",
                        g.members.len(),
                        Capacity::DEFAULT
                    ),
                )
                .into());
            }
            for m in &g.members {
                if m.trim().is_empty() {
                    return Err(
                        InputError::new(format!("groups[{i}].members"), "an empty id").into(),
                    );
                }
                if !seen.insert(m.clone()) {
                    return Err(InputError::new(
                        format!("groups[{i}].members"),
                        format!("{m:?} is in two groups"),
                    )
                    .into());
                }
            }
            // Two cohorts with the same dates and language get "2", "3", … after the name.
            let base = cohort_name(g);
            let mut name = base.clone();
            let mut n = 2;
            while names.contains(&name.to_lowercase()) {
                name = format!("{base} {n}");
                n += 1;
            }
            crate::group::parse_group_name(&name)?;
            names.insert(name.to_lowercase());
            planned.push((name, g));
        }
        let mut out = Vec::new();
        for (name, g) in planned {
            let info = self.create_group(&name, Capacity::new(None, None)?)?;
            let mut invites = Vec::new();
            for m in &g.members {
                let invite = self.invite(&info.id, Role::Mother, INVITE_VALID_MS)?;
                invites.push(CohortInvite {
                    mother: m.clone(),
                    code: invite.code,
                    expires_at: invite.expires_at,
                });
            }
            out.push(ConfirmedCohort {
                group: info.id.to_hex(),
                name,
                language: g.language.clone(),
                invites,
            });
        }
        Ok(out)
    }
}
