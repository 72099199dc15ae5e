import { Type, type Static } from '@sinclair/typebox';
import { LinksSchema, Nullable } from './common.ts';

const nullableText = (description: string) => Nullable(Type.String({ description }));

/** SPEC §4.2. Every key is always present; type-specific fields the rule does not use are null (C05). */
export const BillingRuleSchema = Type.Object(
  {
    token: Type.String({ description: 'bllng_rule_ followed by 16 hex characters.' }),
    title: Type.String({ description: 'The title of the BillingRule, exactly as sent.' }),
    type: Type.String({ description: 'The type of the BillingRule, lowercase: exclusion, adjustment, credit, charge or custom.' }),
    start_date: nullableText('The start date of the BillingRule, exactly as sent (YYYY-MM-DD or ISO 8601 date-time).'),
    end_date: nullableText('The end date of the BillingRule, exactly as sent; never before start_date.'),
    apply_to_all: Type.Boolean({ description: 'Whether the BillingRule applies to all current and future managed accounts.' }),
    created_by_token: Type.String({ description: 'The token of the Creator of the BillingRule (the account whose token created it).' }),
    created_at: Type.String({ description: 'The date and time, in UTC, the BillingRule was created. ISO 8601 Formatted.' }),
    charge_type: nullableText('The charge type for the BillingRule (Exclusion).'),
    percentage: nullableText('The percentage of the cost shown for the BillingRule (Adjustment), as an exact decimal string, e.g. "75.0".'),
    service: nullableText('The service for the BillingRule (Adjustment, Charge, Credit).'),
    category: nullableText('The category for the BillingRule (Adjustment, Charge, Credit).'),
    sub_category: nullableText('The subcategory for the BillingRule (Charge, Credit).'),
    start_period: nullableText('The start period for the BillingRule (Charge, Credit). Deprecated: use start_date.'),
    amount: nullableText('The amount for the BillingRule (Charge, Credit), as an exact decimal string, e.g. "300.0".'),
    sql_query: nullableText('The SQL query for the BillingRule (Custom), exactly as sent.'),
    execution_stage: Type.Integer({
      minimum: 1,
      maximum: 4,
      description:
        'Steward extension, read-only: the execution group the rule runs in (1 AWS transforms, 2 COST inserts, 3 COST transforms, ' +
        "4 monthly post-transform inserts). A managed account's billing_rule_tokens must be grouped in this order.",
    }),
    execution_stage_name: Type.String({ description: 'Steward extension, read-only: the name of execution_stage, e.g. "COST transforms".' }),
  },
  { $id: 'BillingRule', description: 'BillingRule model' },
);

export const BillingRulesSchema = Type.Object(
  { links: Type.Ref(LinksSchema), billing_rules: Type.Array(Type.Ref(BillingRuleSchema)) },
  { $id: 'BillingRules', description: 'BillingRules model' },
);

const optionalText = (description: string) => Type.Optional(nullableText(description));
const optionalNumber = (description: string) => Type.Optional(Nullable(Type.Number({ description })));

/** Fields shared by create and update; which of them a rule keeps depends on its type (others are ignored). */
const ruleFields = {
  start_period: optionalText('The start period of the BillingRule (Charge, Credit). DEPRECATED: use start_date instead.'),
  start_date: optionalText('The start date of the BillingRule. YYYY-MM-DD or ISO 8601 date-time; echoed as sent.'),
  end_date: optionalText('The end date of the BillingRule. YYYY-MM-DD or ISO 8601 date-time; must not be before start_date.'),
  apply_to_all: Type.Optional(
    Nullable(
      Type.Boolean({
        description:
          'Determines if the BillingRule applies to all current and future managed accounts. Turning it on attaches the rule to every ' +
          'managed account lacking it, at the end of its execution group; turning it off detaches nothing.',
      }),
    ),
  ),
  charge_type: optionalText('The charge type of the BillingRule. Required for Exclusion rules.'),
  percentage: optionalNumber('The percentage of the cost shown. Required for Adjustment rules (non-negative). Example value: 75.0'),
  service: optionalText('The service of the BillingRule. Required for Charge and Credit rules; optional for Adjustment rules.'),
  category: optionalText('The category of the BillingRule (Adjustment, Charge, Credit).'),
  sub_category: optionalText('The subcategory of the BillingRule (Charge, Credit).'),
  amount: optionalNumber('The amount for the BillingRule. Required for Charge and Credit rules (positive). Example value: 300'),
  sql_query: optionalText(
    'The SQL query for the BillingRule. Required for Custom rules: one UPDATE or DELETE on aws or costs, or an INSERT INTO costs. ' +
      'Example value: UPDATE costs SET amount = amount * 0.95',
  ),
};

export const CreateBillingRuleBody = Type.Object(
  {
    type: nullableText('The type of the BillingRule: exclusion, adjustment, credit, charge or custom. Note: the values are case insensitive.'),
    title: nullableText('The title of the BillingRule (1–255 characters).'),
    ...ruleFields,
  },
  {
    description:
      'Create a BillingRule. Charge and Credit rules also need start_date (or the deprecated start_period). Fields the type does not use are ignored.',
  },
);
export type CreateBillingRuleBody = Static<typeof CreateBillingRuleBody>;

export const UpdateBillingRuleBody = Type.Object(
  {
    type: optionalText('Immutable. Accepted only when it equals the rule\'s type (case-insensitive); any other value is a 400.'),
    title: optionalText('The title of the BillingRule.'),
    ...ruleFields,
  },
  {
    description:
      'Update a BillingRule. Absent or null keys keep their stored values; the result is validated like a new rule of the same type. ' +
      'A custom rule whose new sql_query changes its execution group is refused (400) when that would put any managed account\'s ' +
      'billing_rule_tokens out of order.',
  },
);
export type UpdateBillingRuleBody = Static<typeof UpdateBillingRuleBody>;

export const BillingRuleParams = Type.Object({
  billing_rule_token: Type.String({ description: 'The token of the BillingRule.' }),
});
