//! Azure Resource Manager client, per-bot cloud resources and `twctl env`. Not built
//! yet: see issue 6 ("Azure").
