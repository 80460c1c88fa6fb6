//! Search: finds messages and thread titles matching a query among the
//! threads the caller is a member of, best match first.
//!
//! Access is membership only. An org administrator may open any thread of
//! the org, but search answers "where did I see this?", so it covers the
//! caller's own threads and never sweeps the whole org. The store applies the
//! scope in the same SQL statement that matches the text, so no hit outside
//! it is ever read.

use xl_domain::search::{SearchHit, SearchPage, SearchQuery};
use xl_domain::{Actor, Page, PageRequest};
use xl_store::repo;

use crate::{ServiceError, Services};

impl Services {
    /// One page of search hits for the caller. The page's `order` does not
    /// apply (hits are ranked); a cursor that did not come from a search is
    /// refused naming `cursor`.
    pub async fn search(
        &self,
        actor: &Actor,
        query: &SearchQuery,
        page: &PageRequest,
    ) -> Result<Page<SearchHit>, ServiceError> {
        let page = SearchPage::try_from(page)?;
        Ok(repo::search::search(
            self.store.reader(),
            actor.org_id,
            actor.user_id,
            query,
            &page,
        )
        .await?)
    }
}
