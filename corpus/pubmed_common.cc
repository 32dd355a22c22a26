// Shared by the MEDLINE and PubMed XML readers (placeholder until they land).
