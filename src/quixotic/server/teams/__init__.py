"""Teams and memberships (Appwrite's ``teams`` service) and the roles they give their members."""
