//! The scope condition every query of every read model applies in SQL, so no caller can forget access control.

use crate::Scope;
use crate::db::Sql;

/// Appends the condition "the project whose id is the SQL expression `col` is visible to `scope`".
pub(crate) fn project_visible(q: &mut Sql, scope: &Scope, col: &str) {
    match scope {
        Scope::All => {
            q.push("1 = 1");
        }
        Scope::Nothing => {
            q.push("1 = 0");
        }
        Scope::District(code) => {
            q.push(&format!(
                "EXISTS (SELECT 1 FROM projects vis_p WHERE vis_p.project_id = {col} AND vis_p.district = "
            ));
            q.bind(code).push(")");
        }
        Scope::Enterprise(credit) => {
            q.push(&format!(
                "EXISTS (SELECT 1 FROM participants vis_q WHERE vis_q.project_id = {col} AND vis_q.credit_code = "
            ));
            q.bind(credit).push(")");
        }
    }
}
