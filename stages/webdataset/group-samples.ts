// Tar members -> webdataset samples (see src/webdataset/group-samples.ts for the rules). Metadata
// members (`__x__`) and names without an extension are skipped; a member that failed to read is
// reported through `onMemberError` (which may throw, in strict mode) and drops its sample. When the
// shard fails, the open sample is emitted only if the failing member is known to start a new key.
import type { Stage } from '../core/stage.ts';
import type { WdsSample } from '../../src/webdataset/sample.ts';
import { SampleGrouper, type TarMember } from '../../src/webdataset/group-samples.ts';
import { isMetaMember, splitMemberName } from '../../src/webdataset/member-name.ts';
import { ShardReadError } from '../../src/webdataset/shard-error.ts';

export interface GroupSamplesOptions {
  /** The shard URL stored as `__url__`. */
  url: string;
  /** Called for each unreadable member; throw to stop reading. */
  onMemberError?: (member: TarMember) => void;
}

export function groupSamples(options: GroupSamplesOptions): Stage<TarMember, WdsSample> {
  return async function* groupSamplesStage(source, ctx) {
    const grouper = new SampleGrouper(options.url);
    const record = () => {
      if (grouper.duplicateSplits) ctx.counters.inc('duplicate_extension_splits', grouper.duplicateSplits);
      if (grouper.droppedSamples) ctx.counters.inc('samples_dropped', grouper.droppedSamples);
      grouper.duplicateSplits = 0;
      grouper.droppedSamples = 0;
    };
    try {
      for await (const member of source) {
        if (isMetaMember(member.name)) continue;
        const split = splitMemberName(member.name);
        if (!split) {
          ctx.counters.inc('members_without_extension');
          continue;
        }
        if (member.error !== undefined) {
          ctx.counters.inc('members_failed');
          options.onMemberError?.(member);
        }
        const completed = grouper.add(split.key, split.extension, member.data, member.error !== undefined);
        record();
        if (completed) yield completed;
      }
      const last = grouper.flush();
      record();
      if (last) yield last;
    } catch (error) {
      // The shard failed. If the member being read belongs to another key, the open sample is complete
      // (members of a key are adjacent): emit it. Otherwise it may be incomplete and is dropped.
      const failedKey =
        error instanceof ShardReadError && error.member !== undefined
          ? splitMemberName(error.member.replace(/\.gz$/i, ''))?.key
          : undefined;
      const open = grouper.openKey;
      if (open !== undefined && failedKey !== undefined && failedKey !== open) {
        const last = grouper.flush();
        record();
        if (last) yield last;
      } else if (grouper.discard()) {
        ctx.counters.inc('samples_dropped');
      }
      throw error;
    }
  };
}
