//! Tradewind operator. Not built yet: see issue 5 ("The operator"). It will reconcile
//! TradingBot, Strategy and CommissionPlan as DESIGN.md §3 describes.
