import { describe, expect, it } from '@jest/globals';
import { groupKey, groupValue, subjectGroups } from './groups.js';

describe('group naming', () => {
  it('joins attribute values, binarises age and gives null for unknowns', () => {
    expect(groupValue('sex', 'female')).toBe('female');
    expect(groupValue('age', 60)).toBe('<=60');
    expect(groupValue('age', 61, 60)).toBe('>60');
    expect(groupValue('age', 'old')).toBeNull();
    expect(groupValue('skinType', 3)).toBe('3');
    expect(groupKey({ sex: 'male', age: 30 }, ['sex', 'age'], 40)).toBe('male|<=40');
    expect(groupKey({ sex: null, age: 30 }, ['sex', 'age'])).toBeNull();
  });

  it('groups every subject, sorts the names and names a missing attribute', () => {
    const attrs = { sex: ['male', 'female', null, 'female'], age: [70, 20, 30, 65] };
    expect(subjectGroups(attrs, 4, ['sex', 'age'])).toEqual({ names: ['female|<=60', 'female|>60', 'male|>60'], perSubject: ['male|>60', 'female|<=60', null, 'female|>60'] });
    expect(() => subjectGroups(attrs, 4, ['skinType'])).toThrow('"skinType" is not a subject attribute (have sex, age)');
  });
});
