//! The model layer (docs/architecture.md): the search [`space`], its
//! [`dag`]s and their metrics, the [`density`] DAGs are drawn from, standalone
//! [`network`]s, their training-free [`proxies`], the [`ops`] an edge may carry (filters and pooling), the weight-sharing [`supernet`], and the [`device`] and precision
//! they run on. Nothing here knows about strategies, searches or files.

pub mod dag;
pub mod density;
pub mod device;
pub mod network;
pub mod ops;
pub mod proxies;
pub mod space;
pub mod supernet;
