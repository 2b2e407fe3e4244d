//! [`Catalog`] through the cache: versions read from it, every change
//! clearing it.

use super::CachedMeta;
use crate::{Catalog, MetaError, PutVersion};
use agensium_domain::{ProcessorName, ProcessorVersion};
use async_trait::async_trait;

#[async_trait]
impl Catalog for CachedMeta {
    async fn put_version(&self, v: &ProcessorVersion) -> Result<PutVersion, MetaError> {
        let put = self.inner.put_version(v).await;
        self.forget();
        put
    }

    async fn get_version(
        &self,
        name: &ProcessorName,
        version: &str,
    ) -> Result<Option<ProcessorVersion>, MetaError> {
        let key = (name.clone(), version.to_owned());
        let load = self.inner.get_version(name, version);
        self.versions.get_or_load(key, load).await
    }

    async fn list_versions(
        &self,
        name: Option<&ProcessorName>,
    ) -> Result<Vec<ProcessorVersion>, MetaError> {
        self.inner.list_versions(name).await
    }

    async fn yank_version(
        &self,
        name: &ProcessorName,
        version: &str,
    ) -> Result<Option<ProcessorVersion>, MetaError> {
        let yanked = self.inner.yank_version(name, version).await;
        self.forget();
        yanked
    }

    async fn version_page(
        &self,
        name: &ProcessorName,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ProcessorVersion>, MetaError> {
        self.inner.version_page(name, before, limit).await
    }
}
