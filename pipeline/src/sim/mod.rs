//! Simulation shared by the spiking kinds (`spiking`, `rule_filter`): connectivity, the fSBI
//! network of Confavreux et al. 2023 with its plausibility metrics, and the raster plot. Kinds
//! depend on this module; it depends on no kind.

pub mod csr;
pub mod fsbi;
pub mod raster;
