import {
  closestCenter,
  DndContext,
  KeyboardSensor,
  PointerSensor,
  useSensor,
  useSensors,
  type Announcements,
  type DragEndEvent,
  type UniqueIdentifier,
} from '@dnd-kit/core';
import { arrayMove, SortableContext, sortableKeyboardCoordinates, useSortable, verticalListSortingStrategy } from '@dnd-kit/sortable';
import { CSS } from '@dnd-kit/utilities';
import { useEffect, useId, useRef, useState } from 'react';
import type { BillingRule } from '../api.ts';
import { Button } from '../ui.tsx';

const STAGES = [1, 2, 3, 4] as const;
/** SPEC §4.6's names, for stages none of your rules is in yet; a rule's own `execution_stage_name` is used otherwise. */
const STAGE_LABELS: Record<number, string> = { 1: 'AWS transforms', 2: 'COST inserts', 3: 'COST transforms', 4: 'monthly post-transform inserts' };

/**
 * A managed account's billing rules in execution order, one list per execution stage (the API refuses a list that
 * goes back a stage, so rules move only within theirs). Reordered by dragging the handle, or from the keyboard:
 * focus the handle, Space to pick up, arrow keys to move, Space to drop, Escape to cancel.
 */
export function RuleOrder({
  rules,
  order,
  onChange,
  errors,
  creating = false,
}: {
  rules: BillingRule[];
  order: string[];
  onChange: (order: string[]) => void;
  errors?: string[];
  creating?: boolean;
}) {
  const byToken = new Map(rules.map((r) => [r.token, r]));
  const stageOf = (token: string) => byToken.get(token)?.execution_stage ?? 1;
  const groups = STAGES.map((stage) => ({ stage, tokens: order.filter((t) => stageOf(t) === stage) }));
  const available = rules.filter((r) => !order.includes(r.token));
  const [adding, setAdding] = useState('');
  const errorId = useId();
  const addId = useId();
  // Where focus goes once the list has re-rendered: an added rule's handle (ready to be moved), or after a removal
  // the "Add a billing rule" choice (the removed rule is back in it). Otherwise focus would fall to the page.
  const [focusNext, setFocusNext] = useState<{ handle: string } | 'add' | null>(null);
  const fieldset = useRef<HTMLFieldSetElement>(null);
  useEffect(() => {
    if (!focusNext || !fieldset.current) return;
    const target =
      focusNext === 'add'
        ? fieldset.current.querySelector<HTMLElement>('.add-rule select')
        : fieldset.current.querySelector<HTMLElement>(`li[data-token="${window.CSS.escape(focusNext.handle)}"] .handle`);
    target?.focus();
    setFocusNext(null);
  }, [focusNext, order]);

  /** Puts the groups back together in stage order: the only order the API accepts. */
  const join = (next: Array<{ stage: number; tokens: string[] }>) => onChange(next.flatMap((g) => g.tokens));
  const add = (token: string) => {
    if (!token) return;
    join(groups.map((g) => (g.stage === stageOf(token) ? { ...g, tokens: [...g.tokens, token] } : g)));
    setAdding('');
    setFocusNext({ handle: token });
  };

  return (
    <fieldset ref={fieldset} className="rules" aria-describedby={errors?.length ? errorId : undefined}>
      <legend>Billing rules, in execution order</legend>
      <p className="hint">
        Rules run stage by stage; within a stage, top to bottom. Drag a rule by its handle, or focus the handle and press
        Space, then the arrow keys, then Space again.
      </p>
      {creating && rules.some((r) => r.apply_to_all && !order.includes(r.token)) ? (
        <p className="hint warning">
          Rules marked “applies to all” join every new account: one you removed here is added back at the end of its stage
          when the account is created. Remove it from the account afterwards if it should not apply.
        </p>
      ) : null}
      {errors?.length ? (
        <ul className="field-error" id={errorId} data-field="billing_rule_tokens">
          {errors.map((m, i) => (
            <li key={i}>{m}</li>
          ))}
        </ul>
      ) : null}
      {groups.map(({ stage, tokens }) => (
        <StageList
          key={stage}
          stage={stage}
          name={rules.find((r) => r.execution_stage === stage)?.execution_stage_name ?? STAGE_LABELS[stage] ?? ''}
          tokens={tokens}
          byToken={byToken}
          onReorder={(next) => join(groups.map((g) => (g.stage === stage ? { ...g, tokens: next } : g)))}
          onRemove={(token) => {
            join(groups.map((g) => ({ ...g, tokens: g.tokens.filter((t) => t !== token) })));
            setFocusNext('add');
          }}
        />
      ))}
      {available.length > 0 ? (
        <div className="add-rule">
          <label htmlFor={addId}>Add a billing rule</label>
          <div className="inline">
            <select id={addId} value={adding} onChange={(e) => setAdding(e.target.value)}>
              <option value="">Choose a rule…</option>
              {available.map((r) => (
                <option key={r.token} value={r.token}>
                  {r.title} ({r.type}, stage {r.execution_stage}
                  {r.apply_to_all ? ', applies to all' : ''})
                </option>
              ))}
            </select>
            <Button type="button" onClick={() => add(adding)} disabled={!adding}>
              Add rule
            </Button>
          </div>
        </div>
      ) : rules.length === 0 ? (
        <p className="hint">You have no billing rules yet; create them under Billing rules.</p>
      ) : null}
    </fieldset>
  );
}

function StageList({
  stage,
  name,
  tokens,
  byToken,
  onReorder,
  onRemove,
}: {
  stage: number;
  name: string;
  tokens: string[];
  byToken: Map<string, BillingRule>;
  onReorder: (tokens: string[]) => void;
  onRemove: (token: string) => void;
}) {
  const sensors = useSensors(useSensor(PointerSensor, { activationConstraint: { distance: 4 } }), useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }));
  const headingId = useId();
  const title = (id: UniqueIdentifier) => byToken.get(String(id))?.title ?? String(id);
  const position = (id: UniqueIdentifier) => tokens.indexOf(String(id)) + 1;
  const announcements: Announcements = {
    onDragStart: ({ active }) => `Picked up ${title(active.id)}, position ${position(active.id)} of ${tokens.length} in ${name}.`,
    onDragOver: ({ active, over }) => (over ? `${title(active.id)} is over position ${position(over.id)} of ${tokens.length}.` : `${title(active.id)} is no longer over the list.`),
    onDragEnd: ({ active, over }) => (over ? `${title(active.id)} dropped at position ${position(over.id)} of ${tokens.length}.` : `${title(active.id)} dropped.`),
    onDragCancel: ({ active }) => `Reordering cancelled; ${title(active.id)} is back at position ${position(active.id)}.`,
  };
  const onDragEnd = ({ active, over }: DragEndEvent) => {
    if (!over || active.id === over.id) return;
    onReorder(arrayMove(tokens, tokens.indexOf(String(active.id)), tokens.indexOf(String(over.id))));
  };
  return (
    <section className="stage" aria-labelledby={headingId} data-stage={stage}>
      <h3 id={headingId}>
        Stage {stage}: {name}
      </h3>
      {tokens.length === 0 ? (
        <p className="hint">No rules in this stage.</p>
      ) : (
        <DndContext sensors={sensors} collisionDetection={closestCenter} onDragEnd={onDragEnd} accessibility={{ announcements }}>
          <SortableContext items={tokens} strategy={verticalListSortingStrategy}>
            <ol className="rule-list">
              {tokens.map((token) => (
                <SortableRule key={token} token={token} rule={byToken.get(token)} onRemove={() => onRemove(token)} />
              ))}
            </ol>
          </SortableContext>
        </DndContext>
      )}
    </section>
  );
}

function SortableRule({ token, rule, onRemove }: { token: string; rule: BillingRule | undefined; onRemove: () => void }) {
  const { attributes, listeners, setNodeRef, setActivatorNodeRef, transform, transition, isDragging } = useSortable({ id: token });
  const title = rule?.title ?? token;
  return (
    <li ref={setNodeRef} className={`rule-item${isDragging ? ' dragging' : ''}`} style={{ transform: CSS.Transform.toString(transform), transition }} data-token={token}>
      <button type="button" className="handle" ref={setActivatorNodeRef} {...attributes} {...listeners} aria-label={`Move ${title}`}>
        <span aria-hidden="true">⠿</span>
      </button>
      <span className="rule-title">{title}</span>
      <span className="badge">{rule?.type ?? 'unknown rule'}</span>
      {rule?.apply_to_all ? <span className="badge all">applies to all</span> : null}
      <button type="button" className="link" onClick={onRemove} aria-label={`Remove ${title}`}>
        Remove
      </button>
    </li>
  );
}
