//! Where each message sits in its thread's tree, so a page of a branch costs
//! the same in a thread of 50 messages and of 50,000, in either order.
//!
//! `depth` is the distance from the root. `jump_id` and `jump_depth` are a
//! skew-binary jump pointer (Myers, 1983): following jumps where they do not
//! overshoot and parents otherwise reaches the ancestor at any depth in
//! O(log n) steps, which is what paging a branch oldest-first needs.
//! `token_family` names the tokenizer `token_count` was counted with.
//! Existing messages are given their paths here.

use std::collections::HashMap;

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::Uuid;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Iden)]
enum Messages {
    Table,
    Id,
    ParentId,
    Depth,
    JumpId,
    JumpDepth,
    TokenFamily,
}

/// A message's place in its tree: its depth and its jump pointer (the
/// target and the target's depth).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    /// Distance from the root.
    pub depth: i32,
    /// The jump pointer's target (the root's is itself).
    pub jump: Uuid,
    /// The target's depth.
    pub jump_depth: i32,
}

/// The parent of a new message, as [`Place::child`] needs it.
#[derive(Clone, Copy, Debug)]
pub struct Parent {
    /// The parent's id.
    pub id: Uuid,
    /// The parent's place.
    pub place: Place,
    /// Where the parent's jump target itself jumps to, when known.
    pub jump_of_jump: Option<Place>,
}

impl Place {
    /// The place of a new message `id` under `parent` (a root without one).
    /// The rule is the one `POST_INSERT` in xl-store writes in SQL.
    pub fn child(id: Uuid, parent: Option<Parent>) -> Place {
        let Some(parent) = parent else {
            return Place {
                depth: 0,
                jump: id,
                jump_depth: 0,
            };
        };
        let p = parent.place;
        let skip = parent
            .jump_of_jump
            .filter(|j| p.depth - p.jump_depth == p.jump_depth - j.jump_depth);
        match skip {
            Some(j) => Place {
                depth: p.depth + 1,
                jump: j.jump,
                jump_depth: j.jump_depth,
            },
            None => Place {
                depth: p.depth + 1,
                jump: parent.id,
                jump_depth: p.depth,
            },
        }
    }
}

/// [`Place::child`] with the parent looked up among places already known.
fn place(id: Uuid, parent: Option<(Uuid, Place)>, places: &HashMap<Uuid, Place>) -> Place {
    Place::child(
        id,
        parent.map(|(parent_id, place)| Parent {
            id: parent_id,
            place,
            jump_of_jump: places.get(&place.jump).copied(),
        }),
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in [
            ColumnDef::new(Messages::Depth)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(Messages::JumpId).uuid().null().to_owned(),
            ColumnDef::new(Messages::JumpDepth)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(Messages::TokenFamily)
                .string()
                .null()
                .to_owned(),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Messages::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        backfill(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Messages::TokenFamily,
            Messages::JumpDepth,
            Messages::JumpId,
            Messages::Depth,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Messages::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Gives every existing message its depth and jump pointer, parents first.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let select = Query::select()
        .columns([Messages::Id, Messages::ParentId])
        .from(Messages::Table)
        .to_owned();
    let rows = db.query_all(&select).await?;
    let mut children: HashMap<Option<Uuid>, Vec<Uuid>> = HashMap::new();
    for row in &rows {
        let id: Uuid = row.try_get("", "id")?;
        let parent: Option<Uuid> = row.try_get("", "parent_id")?;
        children.entry(parent).or_default().push(id);
    }
    let mut places = HashMap::new();
    let mut queue: Vec<(Uuid, Option<Uuid>)> = children
        .get(&None)
        .into_iter()
        .flatten()
        .map(|id| (*id, None))
        .collect();
    while let Some((id, parent)) = queue.pop() {
        let parent = parent.and_then(|p| places.get(&p).map(|place| (p, *place)));
        let here = place(id, parent, &places);
        places.insert(id, here);
        let update = Query::update()
            .table(Messages::Table)
            .value(Messages::Depth, here.depth)
            .value(Messages::JumpId, here.jump)
            .value(Messages::JumpDepth, here.jump_depth)
            .and_where(Expr::col(Messages::Id).eq(id))
            .to_owned();
        let (sql, values) = match backend {
            sea_orm_migration::sea_orm::DbBackend::Postgres => update.build(PostgresQueryBuilder),
            _ => update.build(SqliteQueryBuilder),
        };
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        for child in children.get(&Some(id)).into_iter().flatten() {
            queue.push((*child, Some(id)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a chain of `n` messages and returns the places by depth.
    fn chain(n: usize) -> Vec<(Uuid, Place)> {
        let mut places = HashMap::new();
        let mut out: Vec<(Uuid, Place)> = Vec::new();
        for _ in 0..n {
            let id = Uuid::from_u128(out.len() as u128 + 1);
            let parent = out.last().copied();
            let here = place(id, parent, &places);
            places.insert(id, here);
            out.push((id, here));
        }
        out
    }

    #[test]
    fn jump_pointers_reach_any_ancestor_in_logarithmic_steps() {
        let nodes = chain(5000);
        let by_id: HashMap<_, _> = nodes.iter().map(|(id, p)| (*id, (*p, 0))).collect();
        let parent_of: HashMap<_, _> = nodes.windows(2).map(|w| (w[1].0, w[0].0)).collect();
        let (leaf, leaf_place) = nodes[4999];
        for target in [0, 1, 7, 2500, 4998] {
            let (mut id, mut at) = (leaf, leaf_place);
            let mut steps = 0;
            while at.depth > target {
                id = if at.jump_depth >= target {
                    at.jump
                } else {
                    parent_of[&id]
                };
                at = by_id[&id].0;
                steps += 1;
            }
            assert_eq!(at.depth, target);
            assert_eq!(id, nodes[target as usize].0);
            assert!(steps <= 3 * 13, "{steps} steps to depth {target}");
        }
    }
}
