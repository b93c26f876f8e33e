// Values the CLI's options name, apart from the code that acts on them: parsing options loads none of that.

/** CRLReason names `openssl ca -crl_reason` takes (RFC 5280 5.3.1); removeFromCRL is not a reason to revoke. */
export const REVOCATION_REASONS = ['unspecified', 'keyCompromise', 'CACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold'] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** Where `--p12`'s password comes from when no --p12-password-file is given; never inherited by any child. */
export const P12_PASSWORD_VARIABLE = 'HSM_CA_P12_PASSWORD';
