"""Review requests (复核申请, art. 24): a holder or an application agency disputes a licence's data; the issuer answers within 5 working days."""
